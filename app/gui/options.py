"""The options in force, as the View, Camera and Playback menus set them: turned into the
pipeline's and the overlay's settings, handed to the running source, saved for the next
start, and said in the status bar while they differ from the defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emocam.gui.actions import set_checked_quietly
from emocam.gui.settings import non_defaults, reset_keeping_history, save_settings
from emocam.overlay import OverlayOptions
from emocam.pipeline import PipelineConfig

if TYPE_CHECKING:
    from emocam.gui.main_window import MainWindow


class Options:
    def __init__(self, window: MainWindow) -> None:
        """``window``: its settings, the running source, the model chosen and the menus'
        check marks."""
        self._window = window

    def pipeline_config(self, live: bool) -> PipelineConfig:
        s = self._window.settings
        return PipelineConfig(
            model_path=self._window.models.config_path(),
            detector=s.detector,
            provider=s.provider or None,
            min_score=s.min_score,
            smoothing_tau_s=s.smoothing_tau_s,
            live=live,
            target_fps=s.target_fps or None,
        )

    def overlay_options(self) -> OverlayOptions:
        s = self._window.settings
        # Face Boxes off keeps each face's label while its panel shows: without it the
        # panels floated beside faces with nothing to say whose they were.
        return OverlayOptions(show_boxes=s.show_boxes, show_labels=s.show_boxes or s.show_bars,
                              show_bars=s.show_bars, show_landmarks=s.show_landmarks,
                              show_uncertain=s.show_uncertain, blur_faces=s.blur_faces,
                              boxes_only=s.boxes_only)

    def set_privacy_view(self, name: str, on: bool) -> None:
        """Blur Faces and Boxes Only: one at most, as on the command line (the second
        would hide what the first shows)."""
        settings = self._window.settings
        other = {"blur_faces": "boxes_only", "boxes_only": "blur_faces"}[name]
        setattr(settings, name, on)
        if on and getattr(settings, other):
            setattr(settings, other, False)
            self._window.set_checked(f"view.{other}", False)
        self.apply_overlay()

    def apply_overlay(self) -> None:
        if self._window.worker is not None:
            self._window.worker.set_overlay(self.overlay_options())
        self.persist()

    def apply_pipeline_config(self) -> None:
        w = self._window
        if w.worker is not None and w.source_info is not None:
            w.worker.set_config(self.pipeline_config(w.source_info.is_live))
        self.persist()

    def apply_speed(self) -> None:
        if self._window.worker is not None:
            self._window.worker.set_speed(self._window.settings.playback_speed)
        self.persist()

    def persist(self) -> None:
        save_settings(self._window.settings)
        self.show_non_defaults()

    def show_non_defaults(self) -> None:
        """A chosen model, target rate or speed is remembered from one start to the next;
        the status bar says so, as View > Reset to Defaults undoes it."""
        text = non_defaults(self._window.settings, self._window.models.display_name())
        tip = ("Chosen in the View menu and kept from one start to the next; "
               "View > Reset to Defaults goes back to the defaults.") if text else ""
        self._window.status.set("settings", text, tip)

    def reset_to_defaults(self) -> None:
        """Every option back to its default; the window's layout and the recent files stay."""
        w = self._window
        reset_keeping_history(w.settings)
        fresh = w.settings
        w.models.reset()
        for action in w.qactions.values():
            setting = action.property("setting")
            if setting:
                set_checked_quietly(action, bool(getattr(fresh, setting)))
        w.dock.setVisible(fresh.show_side_panel)
        if w.worker is not None:
            w.worker.set_overlay(self.overlay_options())
            w.worker.set_speed(fresh.playback_speed)
        self.apply_pipeline_config()
        w.statusBar().showMessage("Options reset to their defaults.", 5000)
