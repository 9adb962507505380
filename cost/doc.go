// Package cost turns the paper's cost argument into a live model: given the
// hourly prices of VM sizes, the primaries, the standby VM's size and the
// cold-standby storage, it computes the annual cost of the four standby
// designs (conventional warm, VCRcovery warm, conventional cold, VCRcovery
// cold shared by k tenants), the savings, and places the recovery times the
// receiver measured beside each. vcrctl cost prints it, the status page shows
// it and Collector exports it to Prometheus.
package cost
