"""Which emotion model is in force: View > Choose Model and View > Built-in Model (a chosen
model is checked off the GUI thread before it is used) and Help > About, the model's card.

The choice is ``--model`` for this session, else the saved setting, else automatic
(``emocam.classify.default_model_for`` the execution provider).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from emocam.classify import EmotionClassifier, default_model_for
from emocam.errors import UserError
from emocam.gui.banner import MessageBanner
from emocam.gui.dialogs import AboutDialog
from emocam.gui.settings import AppSettings
from emocam.gui.threads import BackgroundThreads
from emocam.modelinfo import ModelInfo, read_model_info
from emocam.resources import builtin_models, resolve_model


class ModelChoice(QObject):
    about_shown = Signal(object)  # the AboutDialog

    def __init__(self, parent: QWidget, settings: AppSettings, banner: MessageBanner,
                 threads: BackgroundThreads, changed: Callable[[], None],
                 provider: Callable[[], str]) -> None:
        """``changed``: another model is in force, for the window to use it; ``provider``:
        the execution provider the running pipeline uses ("" before one runs)."""
        super().__init__(parent)
        self._parent = parent
        self._settings = settings
        self._banner = banner
        self._said = ""  # the banner this object showed last, while it may still be shown
        self._threads = threads
        self._changed = changed
        self._provider = provider
        self.override = ""  # --model: this session only, not saved
        self.info: ModelInfo | None = None  # the metadata of the model in force, once known
        self.about: AboutDialog | None = None

    def chosen(self) -> str:
        """The model the user chose; "" leaves the choice to emocam."""
        return self.override or self._settings.model_path

    def config_path(self) -> Path | None:
        """For the pipeline's configuration: None is automatic."""
        chosen = self.chosen()
        return resolve_model(chosen) if chosen else None

    def path(self) -> str:
        """The file in force, the automatic choice resolved."""
        chosen = self.chosen()
        return str(resolve_model(chosen) if chosen else self._default())

    def display_name(self) -> str:
        """A chosen model's name for the status bar; "" when the choice is automatic."""
        chosen = self.chosen()
        if not chosen:
            return ""
        return self.info.name if self.info is not None else Path(chosen).stem

    def builtin_choices(self) -> list[tuple[str, str]]:
        """The models shipped with emocam, named from their own metadata; the first entry
        leaves the choice to emocam (int8 on the CPU, the float model on a GPU)."""
        default = self._default()
        auto = _builtin_info(default)
        short = next((name for name, path in builtin_models().items()
                      if path.resolve() == default.resolve()), "built-in")
        choices = [(f"Automatic: {short} ({auto.name if auto else 'built-in'}) on this machine",
                    "")]
        # Each led by the name --model, the README and the app's messages use for it.
        for name, path in builtin_models().items():
            info = _builtin_info(path)
            choices.append(
                (f"{name}: {info.name}, {info.num_classes} emotions" if info else name, name))
        return choices

    def builtin_in_force(self) -> str | None:
        """The View > Built-in Model entry for the model in force: "" when automatic, a
        built-in's name (chosen by name or, as ``--model`` may, by its file), else None."""
        chosen = self.chosen()
        if not chosen:
            return ""
        file = resolve_model(chosen).resolve()
        return next((name for name, path in builtin_models().items()
                     if path.resolve() == file), None)

    def choose_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._parent, "Choose Emotion Model", "",
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.set(path)

    def set(self, path: str) -> None:
        """Use another model ("" = automatic) once it proved loadable (checked off the GUI
        thread)."""
        self.override = ""
        if not path:
            self._settings.model_path = ""
            self._unsay()
            self._use()
            return

        def accept(info: ModelInfo) -> None:
            self._settings.model_path = path
            self.info = info
            self._use()
            self._said = f"Using the model {info.name} from {path}."
            self._banner.show_message(self._said, "info")

        def reject(error: Exception) -> None:
            self._banner.show_message(str(error), "error")

        self._threads.run(lambda: _check_model(path), accept, reject)

    def reset(self) -> None:
        """Back to automatic (View > Reset to Defaults; the settings are reset apart)."""
        self.override = ""
        self.info = None
        self._unsay()

    def _unsay(self) -> None:
        # The banner naming a model chosen before is no longer true (it named FER2013 over
        # the default's eight emotions after a reset); a banner about anything else stays.
        if self._said and self._banner.text() == self._said:
            self._banner.hide()
        self._said = ""

    def about_dialog(self) -> None:
        path = self.path()
        if self.info is not None:
            self._show_about(self.info)
        else:
            self._threads.run(lambda: read_model_info(path), self._show_about,
                              lambda e: self._show_about(None))

    def _use(self) -> None:
        self.info = None if not self._settings.model_path else self.info
        self._changed()

    def _default(self) -> Path:
        return default_model_for(self._settings.provider or None)

    def _show_about(self, info: ModelInfo | None) -> None:
        self.about = AboutDialog(info, self.path(), self._provider(), self._parent)
        self.about.show()
        self.about_shown.emit(self.about)


def _builtin_info(path: Path) -> ModelInfo | None:
    """A built-in model's metadata for its menu label (read once, cached by the reader; no
    session is made ready to run); None when it cannot be read: the label is its short name."""
    try:
        return read_model_info(path)
    except UserError:
        return None


def _check_model(path: str) -> ModelInfo:
    """A chosen model's metadata once the model proved it runs: a whole classifier is made
    (checksum, shapes, one test batch) and closed. Off the GUI thread: it takes a while."""
    classifier = EmotionClassifier(resolve_model(path))
    try:
        return classifier.info
    finally:
        classifier.close()
