package quarantine

import (
	"syscall"
	"time"
)

func accessTime(st *syscall.Stat_t) time.Time {
	return time.Unix(int64(st.Atim.Sec), int64(st.Atim.Nsec))
}
