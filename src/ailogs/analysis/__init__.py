"""Pure log analysis: pattern library, template mining, anomalies and correlation."""
