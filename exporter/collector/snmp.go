package collector

// The snmp collector is the trap receiver itself (package snmptrap): it
// counts traps as they arrive and exports its counts on Update. Registering
// it here puts it under the same duration and success metrics as every
// other collector. It is on when --snmp.trap-address is set.
func init() {
	registerCollector("snmp", func(cfg Config) (Collector, error) {
		if cfg.SNMP == nil {
			return nil, nil
		}
		return cfg.SNMP, nil
	})
}
