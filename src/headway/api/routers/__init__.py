"""One router per resource; see headway.api.api for how they are mounted."""
