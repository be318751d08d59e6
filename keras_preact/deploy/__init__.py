"""Using a trained network: its intermediate features (`features`), transfer learning
(`finetune`), export to SavedModel / TFLite / ONNX with verification (`export`), and
classification of image files (`prediction`).
"""
