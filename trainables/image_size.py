"""The size of every target image and of every image the model draws: one staff, one note.

Its own module so that the model and training read two integers without importing the
engraver (verovio and cairosvg)."""

HEIGHT, WIDTH = 162, 300
