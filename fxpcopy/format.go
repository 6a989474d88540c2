package fxpcopy

import "fmt"

// FormatBytes prints n with a binary unit, one decimal: "512 B", "1.5 KiB",
// "3.2 GiB" (up to EiB). Every size fxpfs shows to a person is printed so.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
