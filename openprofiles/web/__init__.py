"""The web console: server-rendered pages over the services, with sign-in sessions."""
