"""The browser page served at `/`: static HTML, CSS and JavaScript, no build step."""
