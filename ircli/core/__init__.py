"""The ircli core: AWS access, cases, the step engine. Never prints, never imports click."""
