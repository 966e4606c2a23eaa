"""The window's two docks, built: Faces (the face cards over the emotion timeline) and
Performance (hidden until View > Performance Panel)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from emocam.gui.face_panel import FacePanel
from emocam.gui.perf_panel import PerfPanel
from emocam.gui.side_width import MIN_SIDE_WIDTH
from emocam.gui.timeline import EmotionTimeline


def faces_dock(window: QMainWindow, faces: FacePanel, timeline: EmotionTimeline) -> QDockWidget:
    """The side panel, docked on the right: the cards over the timeline."""
    scroll = QScrollArea(window)
    scroll.setWidgetResizable(True)
    # The cards fit the panel's width: a sideways scroll bar hid their percentages.
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(faces)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    # Tab goes to the cards themselves: the area around them was a stop nothing showed.
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    # A tooltip, not a line of text: the panel's height is for the cards.
    scroll.setToolTip("Click a face card to follow that face in the timeline.")
    side = QWidget(window)
    side_layout = QVBoxLayout(side)
    side_layout.setContentsMargins(4, 2, 4, 2)
    # Cards first; the timeline gets what they leave, but never less than its minimum.
    side_layout.addWidget(scroll, 3)
    side_layout.addWidget(timeline, 2)
    # Narrower, the cards' percentages went under a scroll bar and the legend was cut:
    # a small window keeps the panel readable and gives up video (or hides it: P).
    # (A card's header sets the width: measured in the window's font, which a desktop
    # may make larger than Qt's default.)
    header = window.fontMetrics().horizontalAdvance("Face 00   happiness  100%  >") + 60
    side.setMinimumWidth(max(MIN_SIDE_WIDTH, header))
    dock = QDockWidget("Faces", window)
    dock.setObjectName("facesDock")
    dock.setWidget(side)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    return dock


def perf_dock(window: QMainWindow, perf: PerfPanel) -> QDockWidget:
    """The performance panel, docked on the right and hidden: for the curious."""
    dock = QDockWidget("Performance", window)
    dock.setObjectName("perfDock")
    # Scrolls rather than squeezing wrapped rows into each other in a short dock.
    scroll = QScrollArea(dock)
    scroll.setWidget(perf)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    dock.setWidget(scroll)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()  # View > Performance Panel shows it
    return dock
