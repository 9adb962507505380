package lxd

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The instance config keys that bound what an instance may use.
const (
	KeyLimitsCPU          = "limits.cpu"
	KeyLimitsCPUAllowance = "limits.cpu.allowance"
	KeyLimitsMemory       = "limits.memory"
)

// byteUnits are the suffixes LXD's size strings take ("512MiB", "2GB").
var byteUnits = map[string]int64{
	"": 1, "B": 1,
	"kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15, "EB": 1e18,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50, "EiB": 1 << 60,
}

// ParseBytes parses a size the way LXD writes limits.memory: an integer
// with an optional unit, decimal (kB, MB, GB, ...) or binary (KiB, MiB,
// GiB, ...). A percentage is not a size; see Instance.MemoryLimit.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, kB, MB, GB, KiB, MiB, GiB, ...)", s, unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v*float64(mult), 0) {
		return 0, fmt.Errorf("size %q: want a number and a unit, e.g. 512MiB or 2GB", s)
	}
	return int64(math.Ceil(v * float64(mult))), nil
}

// FormatBytes writes n the way limits.memory takes it, in whole MiB when n
// is a multiple of one, else in bytes.
func FormatBytes(n int64) string {
	if n > 0 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10)
}

// Limits returns the config that bounds an instance to cpus CPUs and memory
// bytes (zero leaves that one out). A fraction of a CPU becomes a CPU-time
// quota (limits.cpu.allowance "50ms/100ms") on as many whole CPUs as it
// needs, so 0.5 means half of one CPU and 1.5 one and a half of two.
func Limits(cpus float64, memory int64) map[string]string {
	out := map[string]string{}
	if cpus > 0 {
		whole := math.Ceil(cpus)
		out[KeyLimitsCPU] = strconv.Itoa(int(whole))
		if cpus != whole {
			out[KeyLimitsCPUAllowance] = strconv.Itoa(int(math.Round(cpus*100))) + "ms/100ms"
		}
	}
	if memory > 0 {
		out[KeyLimitsMemory] = FormatBytes(memory)
	}
	return out
}

// CPULimit returns how many CPUs the instance may use, from its expanded
// config: a CPU-time quota (limits.cpu.allowance "Xms/Yms") counts as X/Y,
// else limits.cpu as a count ("2") or a set of pinned CPUs ("0-1,3" is 3).
// ok is false when neither is set: the instance may use every CPU.
func (i *Instance) CPULimit() (cpus float64, ok bool, err error) {
	cfg := i.expandedConfig()
	if a := cfg[KeyLimitsCPUAllowance]; strings.Contains(a, "/") {
		q, p, _ := strings.Cut(a, "/")
		qv, err1 := strconv.ParseFloat(strings.TrimSuffix(q, "ms"), 64)
		pv, err2 := strconv.ParseFloat(strings.TrimSuffix(p, "ms"), 64)
		if err1 != nil || err2 != nil || pv <= 0 || qv < 0 {
			return 0, false, fmt.Errorf("instance %q: %s=%q: want a quota like 50ms/100ms", i.Name, KeyLimitsCPUAllowance, a)
		}
		return qv / pv, true, nil
	}
	v := strings.TrimSpace(cfg[KeyLimitsCPU])
	if v == "" {
		return 0, false, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return float64(n), true, nil
	}
	n, err := cpuSetSize(v)
	if err != nil {
		return 0, false, fmt.Errorf("instance %q: %s=%q: %w", i.Name, KeyLimitsCPU, v, err)
	}
	return float64(n), true, nil
}

// cpuSetSize counts the CPUs of a set like "0-1,3".
func cpuSetSize(set string) (int, error) {
	n := 0
	for part := range strings.SplitSeq(set, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0, fmt.Errorf("want a count (2) or a CPU set (0-1,3)")
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("want a count (2) or a CPU set (0-1,3)")
			}
		}
		n += b - a + 1
	}
	return n, nil
}

// MemoryLimit returns limits.memory in bytes, from the expanded config; a
// percentage is taken of total, the machine's memory. ok is false when it
// is unset: the instance may use all of the machine's memory.
func (i *Instance) MemoryLimit(total int64) (bytes int64, ok bool, err error) {
	v := strings.TrimSpace(i.expandedConfig()[KeyLimitsMemory])
	if v == "" {
		return 0, false, nil
	}
	if pct, isPct := strings.CutSuffix(v, "%"); isPct {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p < 0 {
			return 0, false, fmt.Errorf("instance %q: %s=%q: want a size (512MiB) or a percentage (50%%)", i.Name, KeyLimitsMemory, v)
		}
		return int64(float64(total) * p / 100), true, nil
	}
	n, err := ParseBytes(v)
	if err != nil {
		return 0, false, fmt.Errorf("instance %q: %s: %w", i.Name, KeyLimitsMemory, err)
	}
	return n, true, nil
}

// expandedConfig is the config with the profiles' keys applied, or the
// instance's own when LXD sent no expanded view.
func (i *Instance) expandedConfig() map[string]string {
	if len(i.ExpandedConfig) > 0 {
		return i.ExpandedConfig
	}
	return i.Config
}
