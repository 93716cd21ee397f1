package labeltest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
)

type zipEntry struct {
	name  string
	data  []byte
	store bool
}

type zipOpts struct {
	zip64, dataDescriptors, growthHint bool
}

// buildZip writes entries by hand rather than with archive/zip so that tests get the shapes
// real writers produce and archive/zip does not: ZIP64 records in small files, data descriptors
// with ZIP64 sizes, and Office's local-only 0xA220 growth-hint extra field.
func buildZip(entries []zipEntry, o zipOpts) []byte {
	var out bytes.Buffer
	var central bytes.Buffer
	le := binary.LittleEndian
	u16 := func(b *bytes.Buffer, v uint16) { _ = binary.Write(b, le, v) }
	u32 := func(b *bytes.Buffer, v uint32) { _ = binary.Write(b, le, v) }
	u64 := func(b *bytes.Buffer, v uint64) { _ = binary.Write(b, le, v) }
	for _, e := range entries {
		comp, method := e.data, uint16(0)
		if !e.store {
			var cb bytes.Buffer
			fw, _ := flate.NewWriter(&cb, flate.DefaultCompression)
			_, _ = fw.Write(e.data)
			_ = fw.Close()
			comp, method = cb.Bytes(), 8
		}
		crc := crc32.ChecksumIEEE(e.data)
		offset := uint64(out.Len())
		flags := uint16(0)
		if o.dataDescriptors {
			flags |= 0x8
		}
		version := uint16(20)
		if o.zip64 {
			version = 45
		}
		var lextra bytes.Buffer
		if o.zip64 {
			u16(&lextra, 1)
			u16(&lextra, 16)
			if o.dataDescriptors {
				u64(&lextra, 0)
				u64(&lextra, 0)
			} else {
				u64(&lextra, uint64(len(e.data)))
				u64(&lextra, uint64(len(comp)))
			}
		}
		if o.growthHint {
			u16(&lextra, 0xA220)
			u16(&lextra, 300)
			u16(&lextra, 0xA028)
			lextra.Write(make([]byte, 298))
		}
		u32(&out, 0x04034b50)
		u16(&out, version)
		u16(&out, flags)
		u16(&out, method)
		u16(&out, 0)
		u16(&out, 0x21)
		switch {
		case o.dataDescriptors:
			u32(&out, 0)
			u32(&out, 0)
			u32(&out, 0)
		case o.zip64:
			u32(&out, crc)
			u32(&out, 0xffffffff)
			u32(&out, 0xffffffff)
		default:
			u32(&out, crc)
			u32(&out, uint32(len(comp)))
			u32(&out, uint32(len(e.data)))
		}
		u16(&out, uint16(len(e.name)))
		u16(&out, uint16(lextra.Len()))
		out.WriteString(e.name)
		out.Write(lextra.Bytes())
		out.Write(comp)
		if o.dataDescriptors {
			u32(&out, 0x08074b50)
			u32(&out, crc)
			if o.zip64 {
				u64(&out, uint64(len(comp)))
				u64(&out, uint64(len(e.data)))
			} else {
				u32(&out, uint32(len(comp)))
				u32(&out, uint32(len(e.data)))
			}
		}
		var cextra bytes.Buffer
		if o.zip64 {
			u16(&cextra, 1)
			u16(&cextra, 24)
			u64(&cextra, uint64(len(e.data)))
			u64(&cextra, uint64(len(comp)))
			u64(&cextra, offset)
		}
		u32(&central, 0x02014b50)
		u16(&central, 45)
		u16(&central, version)
		u16(&central, flags)
		u16(&central, method)
		u16(&central, 0)
		u16(&central, 0x21)
		u32(&central, crc)
		if o.zip64 {
			u32(&central, 0xffffffff)
			u32(&central, 0xffffffff)
		} else {
			u32(&central, uint32(len(comp)))
			u32(&central, uint32(len(e.data)))
		}
		u16(&central, uint16(len(e.name)))
		u16(&central, uint16(cextra.Len()))
		u16(&central, 0)
		u16(&central, 0)
		u16(&central, 0)
		u32(&central, 0)
		if o.zip64 {
			u32(&central, 0xffffffff)
		} else {
			u32(&central, uint32(offset))
		}
		central.WriteString(e.name)
		central.Write(cextra.Bytes())
	}
	cdOff := uint64(out.Len())
	out.Write(central.Bytes())
	n := uint64(len(entries))
	if o.zip64 {
		z64 := uint64(out.Len())
		u32(&out, 0x06064b50)
		u64(&out, 44)
		u16(&out, 45)
		u16(&out, 45)
		u32(&out, 0)
		u32(&out, 0)
		u64(&out, n)
		u64(&out, n)
		u64(&out, uint64(central.Len()))
		u64(&out, cdOff)
		u32(&out, 0x07064b50)
		u32(&out, 0)
		u64(&out, z64)
		u32(&out, 1)
	}
	u32(&out, 0x06054b50)
	u16(&out, 0)
	u16(&out, 0)
	if o.zip64 {
		u16(&out, 0xffff)
		u16(&out, 0xffff)
		u32(&out, 0xffffffff)
		u32(&out, 0xffffffff)
	} else {
		u16(&out, uint16(n))
		u16(&out, uint16(n))
		u32(&out, uint32(central.Len()))
		u32(&out, uint32(cdOff))
	}
	u16(&out, 0)
	return out.Bytes()
}
