"""Organisation, teams, people and roles."""
