"""The plugin's settings (QGIS settings, ``mapseg/…``) and the dialog that edits them."""

import os

from qgis.core import QgsSettings
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

APP_URL = "mapseg/app_url"
OUTPUT_FOLDER = "mapseg/output_folder"


def app_url():
    """A URL of the app set by the user (``http(s)://…``), or ``""`` for the bundled app."""
    return str(QgsSettings().value(APP_URL, "") or "").strip()


def output_folder():
    """The folder the user picked for results, or ``""`` (next to the project)."""
    folder = str(QgsSettings().value(OUTPUT_FOLDER, "") or "").strip()
    return folder if folder and os.path.isdir(folder) else ""


def set_output_folder(folder):
    QgsSettings().setValue(OUTPUT_FOLDER, folder)


def check_url(url):
    """``None`` for an acceptable app URL (empty, http or https), else what is wrong."""
    if not url or url.startswith(("http://", "https://")):
        return None
    return f"the app URL must start with http:// or https:// (got “{url}”)"


class SettingsDialog(QDialog):
    """Where the app comes from, and where results are saved."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Mapseg settings")
        self.url = QLineEdit(app_url())
        self.url.setPlaceholderText("empty: the app bundled with the plugin, served on 127.0.0.1")
        self.folder = QLineEdit(str(QgsSettings().value(OUTPUT_FOLDER, "") or ""))
        self.folder.setPlaceholderText("empty: next to the QGIS project")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(browse)
        folder_row = QWidget()
        folder_row.setLayout(row)
        self.problem = QLabel("")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("App URL", self.url)
        form.addRow("Results folder", folder_row)
        form.addRow(self.problem)
        form.addRow(buttons)

    def _browse(self):
        folder = QFileDialog.getExistingDirectory(self, "Results folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _accept(self):
        url = self.url.text().strip()
        folder = self.folder.text().strip()
        problem = check_url(url)
        if problem is None and folder and not os.path.isdir(folder):
            problem = f"the results folder does not exist: {folder}"
        if problem:
            self.problem.setText(problem)
            return
        settings = QgsSettings()
        settings.setValue(APP_URL, url)
        settings.setValue(OUTPUT_FOLDER, folder)
        self.accept()
