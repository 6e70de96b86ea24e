"""The conversation with the app in the panel: what was sent, what came back, for which layer.

A raster sent before the app says ``ready`` waits for it (only the latest one); a result is
matched to the layer whose raster carried its name. Plain
Python with callbacks: the tests drive it without QGIS.
"""

from . import protocol


class Session:
    """Routes messages between the plugin and the app.

    ``send(text)`` delivers a message to the app; ``on_result(result, layer_id)`` gets each
    finished run (``layer_id`` is ``None`` for a raster the plugin did not send);
    ``on_error(message)`` gets every error of the app or of the contract.
    """

    def __init__(self, send, on_result, on_error):
        self._send = send
        self._on_result = on_result
        self._on_error = on_error
        self._ready = False
        self._pending = []
        self._layers = {}  # raster name → layer id

    @property
    def ready(self):
        return self._ready

    def reset(self):
        """The page is (re)loading: hold messages until it says ``ready`` again."""
        self._ready = False

    def open(self, message, name, layer_id):
        """Sends an ``open`` message (from :mod:`protocol`) for the layer ``layer_id``."""
        self._layers[name] = layer_id
        self._pending = [message]  # only the latest raster matters
        if self._ready:
            self._flush()

    def receive(self, text):
        """Handles one message from the app."""
        try:
            message = protocol.parse(text)
        except protocol.ProtocolError as error:
            self._on_error(str(error))
            return
        if isinstance(message, protocol.Ready):
            self._ready = True
            self._flush()
        elif isinstance(message, protocol.Failure):
            self._on_error(message.message)
        elif isinstance(message, protocol.Result):
            self._on_result(message, self._layers.get(message.name))

    def _flush(self):
        pending, self._pending = self._pending, []
        for message in pending:
            self._send(message)
