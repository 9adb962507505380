// Package scaleup is the scale-up recovery strategy, for a standby that has
// become too small (VCRStandbyOverloaded): it measures each container's CPU
// rate on the standby, chooses which to move, and migrates them to a bigger
// VM's LXD. It tries a live (CRIU) migration first where allowed and falls
// back to a stateless move (pre-copy while running, stop, refresh the delta,
// start on the target), recording which one happened and why. The source
// copy is only deleted in Finalize, after DNS has switched.
package scaleup
