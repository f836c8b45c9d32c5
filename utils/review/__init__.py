"""Self-contained review pages (HTML with CSS, script and data inline): one per spotted recording, one per run."""
