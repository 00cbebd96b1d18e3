// Render every card of window.GREENSCREEN_CARDS with the adaptivecards renderer and write what
// was rendered as text into the DOM, so `chromium --dump-dom` can be asserted on.
(function () {
  "use strict";
  // Teams renders a Markdown subset in TextBlocks (bold, italic, links); the npm renderer
  // leaves Markdown to its host, so this page is that host. Text is HTML-escaped first.
  // Backslash escapes are honoured as Teams does (CommonMark): an escaped character is text.
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = function (text, result) {
    var html = text
      .replace(/\\([\\`*_{}\[\]()#!|~<>+\-.])/g, function (match, c) {
        return "\u0001" + c.charCodeAt(0) + "\u0002";
      })
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;")
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[\s(])_([^_]+)_(?=$|[\s).,;:])/g, "$1<em>$2</em>")
      .replace(/\[([^\]]+)\]\((https:\/\/[^\s)]+)\)/g, '<a href="$2">$1</a>')
      .replace(/\u0001(\d+)\u0002/g, "&#$1;");
    result.outputHtml = html;
    result.didProcess = true;
  };
  var texts = [];
  var errors = [];
  var main = document.getElementById("cards");
  Object.keys(window.GREENSCREEN_CARDS).forEach(function (name) {
    var section = document.createElement("section");
    section.id = "card-" + name;
    var title = document.createElement("h2");
    title.textContent = name;
    section.appendChild(title);
    main.appendChild(section);
    try {
      var card = new AdaptiveCards.AdaptiveCard();
      var context = new AdaptiveCards.SerializationContext();
      card.parse(window.GREENSCREEN_CARDS[name], context);
      // Anything the renderer did not understand or found invalid is an error here.
      for (var i = 0; i < context.eventCount; i++) {
        errors.push(name + ": parse: " + context.getEventAt(i).message);
      }
      card.validateProperties().validationEvents.forEach(function (event) {
        errors.push(name + ": validation: " + event.message);
      });
      var element = card.render();
      if (!element) {
        errors.push(name + ": the renderer returned nothing");
        return;
      }
      section.appendChild(element);
      var buttons = Array.prototype.map.call(
        element.querySelectorAll("button"),
        function (button) { return "[button] " + (button.getAttribute("aria-label") || button.textContent); }
      );
      texts.push("=== " + name + " ===\n" + element.innerText + "\n" + buttons.join("\n"));
    } catch (error) {
      errors.push(name + ": " + error);
    }
  });
  document.getElementById("rendered-text").textContent = texts.join("\n");
  document.getElementById("render-errors").textContent = errors.join("\n");
  document.body.setAttribute("data-rendered", "done");
})();
