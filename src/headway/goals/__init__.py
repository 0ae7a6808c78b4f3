"""The company's goals, as a tree."""
