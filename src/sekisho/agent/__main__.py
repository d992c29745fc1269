import sys

from sekisho.agent.cli import main

sys.exit(main())
