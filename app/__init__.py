"""emocam: live facial-emotion recognition for webcams and video files."""

__version__ = "0.1.0"
