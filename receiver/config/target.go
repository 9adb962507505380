package config

// Target names the standby a strategy prepares its service on: its
// `target` setting (a scale-up moves there) or its `remote` setting (warm,
// cold), else "strategy:<name>" for a strategy that names no LXD remote.
// Prepares on one target share pipeline.max_concurrent_prepares.
func (st Strategy) Target() string {
	for _, key := range []string{"target", "remote"} {
		if v, ok := st.Settings[key].(string); ok && v != "" {
			return v
		}
	}
	return "strategy:" + st.Name
}
