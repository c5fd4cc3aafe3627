"""Entry point of the packaged app (dist/VoiceDesk/VoiceDesk)."""

import multiprocessing
import sys

from voicedesk.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # worker processes (serve --workers, load) re-enter here
    sys.exit(main())
