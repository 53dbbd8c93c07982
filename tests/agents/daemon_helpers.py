"""Running the daemon in-process on a thread, for tests against IngestServer."""
import threading
import time

from agents.config import load_config
from agents.daemon import Agent


def run_agent_until(config_path, done, timeout=20.0):
    """Run an Agent until `done()` is true (checked every 20 ms), then stop it; returns the agent."""
    agent = Agent(load_config(config_path))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not done():
            assert thread.is_alive(), "the daemon exited on its own"
            assert time.monotonic() < deadline, "condition not reached in time"
            time.sleep(0.02)
    finally:
        agent.stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    return agent


FAST = "[schedule]\npoll_seconds = 0.05\n"
