// Package mediatest helps tests of media: captured media to replay, and
// blocks of free ports for fixed port ranges.
package mediatest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// ReadPcapUDP returns the UDP payloads of a classic pcap file (not
// pcapng) of Ethernet frames carrying IPv4: all these captures need.
func ReadPcapUDP(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, errors.New("short pcap header")
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d: // µs, ns timestamps
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, errors.New("not a classic pcap file")
	}
	if link := order.Uint32(data[20:]); link != 1 {
		return nil, fmt.Errorf("link type %d, want Ethernet (1)", link)
	}
	var out [][]byte
	for off := 24; off < len(data); {
		if off+16 > len(data) {
			return nil, errors.New("truncated record header")
		}
		incl := int(order.Uint32(data[off+8:]))
		off += 16
		if incl > len(data)-off {
			return nil, errors.New("truncated record")
		}
		frame := data[off : off+incl]
		off += incl
		if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
			continue // not IPv4
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[0]>>4 != 4 || ip[9] != 17 || ihl < 20 || len(ip) < ihl+8 {
			continue // not UDP
		}
		udp := ip[ihl:]
		n := int(binary.BigEndian.Uint16(udp[4:]))
		if n < 8 || n > len(udp) {
			return nil, errors.New("bad UDP length")
		}
		out = append(out, udp[8:n])
	}
	return out, nil
}
