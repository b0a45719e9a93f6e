"""The built-in scene models: solid shapes on a plain background, so local runs answer real questions offline.

Two stages are ONNX graphs the project builds with ``onnx.helper`` (:mod:`.graphs`) and runs with
onnxruntime: *detection* (a per-pixel foreground mask against the background colour) and *colour
classification* (a softmax over the eight palette colours of a region's mean colour). The rest is
numpy (:mod:`.vision`): connected regions, boxes, and the shape from how much of its box a region
fills. :mod:`.backend` answers the ViperGPT operators from that; :mod:`.generate` draws scenes with
their ground truth and questions.
"""

#: The colours and shapes the scene models know.
COLOURS = {
    "red": (220, 30, 30), "green": (30, 160, 50), "blue": (30, 60, 220), "yellow": (240, 220, 30),
    "orange": (245, 140, 20), "purple": (140, 40, 170), "black": (15, 15, 15), "white": (250, 250, 250),
}
SHAPES = ("circle", "square", "rectangle", "triangle")
BACKGROUND = (128, 128, 128)
