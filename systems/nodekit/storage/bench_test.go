package storage

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkPut measures one writer: every Put pays a write and an fsync.
func BenchmarkPut(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "log"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := []byte("12345")
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Put(Record{Key: fmt.Sprint("k", i%100), Version: Version{uint64(i + 1), 1}, Value: value}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Stats().Commit.Batches)/float64(b.N), "fsyncs/op")
}

// BenchmarkPutParallel measures 64 concurrent writers sharing fsyncs.
func BenchmarkPutParallel(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "log"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := []byte("12345")
	var counter atomic.Uint64
	b.SetParallelism(32) // x GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := counter.Add(1)
			if _, err := s.Put(Record{Key: fmt.Sprint("k", i%100), Version: Version{i, 1}, Value: value}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(s.Stats().Commit.Batches)/float64(b.N), "fsyncs/op")
}
