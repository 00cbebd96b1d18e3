"""A page that renders alert cards with the npm adaptivecards renderer."""
