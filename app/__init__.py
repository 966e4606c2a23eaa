"""emocam: live facial-emotion recognition for webcams and video files."""

from emocam.offline import keep_onnxruntime_quiet

__version__ = "0.1.0"

# Before any module of emocam loads onnxruntime: it would otherwise keep a device identifier
# and queued usage reports in the user's home (emocam.offline).
keep_onnxruntime_quiet()
