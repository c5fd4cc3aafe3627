"""QA automation: scenarios, client-side latency, golden calls, call reports, browser dumps."""
