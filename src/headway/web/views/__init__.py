"""The web UI's views: pages that read (`pages`), forms that write through the services
(`editing`), and signing in and the language (`account`)."""
