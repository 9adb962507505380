// Package inventory holds what a libvirtd knows beyond the one bulk stats
// call of a scrape: each domain's parsed XML (OS, disks, interfaces,
// <metadata>), the job a domain runs (a migration, a save, a dump), and the
// storage pools. All of it changes rarely, so it is refreshed in the
// background, on lifecycle events and on timers, and a scrape only reads
// what is cached: it never waits for a libvirt call beyond its bulk one.
package inventory

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// DomainInfo is what the exporter reads from a domain's XML.
type DomainInfo struct {
	OSType, Arch, Machine string
	Disks                 []Disk
	Interfaces            []Interface
	// Nova is set when OpenStack nova's <nova:instance> is in <metadata>.
	Nova *Nova
	// Metadata holds the values of the --libvirt.metadata-label keys, in
	// the order of the keys; "" where a domain lacks one.
	Metadata []string
}

// Disk is one <disk> device.
type Disk struct {
	Device     string // target dev: vda, sda, hdc (the device label of the block stats)
	DeviceType string // disk, cdrom, floppy, lun
	Type       string // file, block, network, volume, dir
	Bus        string // virtio, sata, scsi, ide, usb
	Cache      string // driver cache mode: none, writeback, ...; "" is the hypervisor's default
	Format     string // driver type: qcow2, raw
	Source     string // file or device path, pool/volume, or protocol:name for network disks
	Serial     string
}

// Interface is one <interface> device.
type Interface struct {
	Device  string // target dev (vnet0, tap...): the interface label of the network stats
	MAC     string
	Type    string // bridge, network, ethernet, direct, user, vhostuser
	Bridge  string // source bridge, or the bridge libvirt put a network interface on
	Network string // source network, for type network
	Model   string // virtio, e1000, rtl8139
}

// Nova is the part of OpenStack nova's instance metadata dashboards group by.
type Nova struct {
	Name, Flavor           string
	ProjectName, ProjectID string
	UserName, UserID       string
}

// novaNamespacePrefix starts every version of nova's metadata namespace
// (1.0, 1.1, 1.2, ...).
const novaNamespacePrefix = "http://openstack.org/xmlns/libvirt/nova/"

// MetadataKey names one value inside <metadata>: the namespace URI of a
// top-level element and the path of elements below it, optionally ending in
// an attribute.
type MetadataKey struct {
	Label     string
	Namespace string
	Path      []string // element local names below the namespace's element
	Attr      string   // attribute of the last element; "" for its text
}

// ParseMetadataKey parses the --libvirt.metadata-label syntax
// LABEL=NAMESPACE-URI#PATH, where PATH is slash-separated and may end in
// @attribute; an empty PATH reads the namespace element's own text.
func ParseMetadataKey(s string) (MetadataKey, error) {
	label, rest, ok := strings.Cut(s, "=")
	if !ok || !validLabelName(label) {
		return MetadataKey{}, fmt.Errorf("--libvirt.metadata-label %q: want LABEL=NAMESPACE-URI#PATH with LABEL a Prometheus label name", s)
	}
	switch label {
	case "domain", "uuid", "host", "cloud", "instance", "job":
		return MetadataKey{}, fmt.Errorf("--libvirt.metadata-label %q: label %q is taken; pick another name", s, label)
	}
	ns, path, _ := strings.Cut(rest, "#")
	if ns == "" {
		return MetadataKey{}, fmt.Errorf("--libvirt.metadata-label %q: no namespace URI", s)
	}
	k := MetadataKey{Label: label, Namespace: ns}
	if at := strings.LastIndexByte(path, '@'); at >= 0 {
		path, k.Attr = path[:at], path[at+1:]
		if k.Attr == "" {
			return MetadataKey{}, fmt.Errorf("--libvirt.metadata-label %q: empty attribute name after @", s)
		}
	}
	for _, p := range strings.Split(path, "/") {
		if p != "" {
			k.Path = append(k.Path, p)
		}
	}
	return k, nil
}

func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// domainXML mirrors the parts of libvirt's domain XML schema read here.
type domainXML struct {
	OS struct {
		Type struct {
			Arch    string `xml:"arch,attr"`
			Machine string `xml:"machine,attr"`
			Value   string `xml:",chardata"`
		} `xml:"type"`
	} `xml:"os"`
	Metadata struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"metadata"`
	Devices struct {
		Disks []struct {
			Type   string `xml:"type,attr"`
			Device string `xml:"device,attr"`
			Driver struct {
				Type  string `xml:"type,attr"`
				Cache string `xml:"cache,attr"`
			} `xml:"driver"`
			Source struct {
				File     string `xml:"file,attr"`
				Dev      string `xml:"dev,attr"`
				Dir      string `xml:"dir,attr"`
				Pool     string `xml:"pool,attr"`
				Volume   string `xml:"volume,attr"`
				Protocol string `xml:"protocol,attr"`
				Name     string `xml:"name,attr"`
			} `xml:"source"`
			Target struct {
				Dev string `xml:"dev,attr"`
				Bus string `xml:"bus,attr"`
			} `xml:"target"`
			Serial string `xml:"serial"`
		} `xml:"disk"`
		Interfaces []struct {
			Type string `xml:"type,attr"`
			MAC  struct {
				Address string `xml:"address,attr"`
			} `xml:"mac"`
			Source struct {
				Bridge  string `xml:"bridge,attr"`
				Network string `xml:"network,attr"`
				Dev     string `xml:"dev,attr"`
			} `xml:"source"`
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
			Model struct {
				Type string `xml:"type,attr"`
			} `xml:"model"`
		} `xml:"interface"`
	} `xml:"devices"`
}

// ParseDomainXML reads a domain's XML description (virDomainGetXMLDesc)
// and the metadata keys asked for.
func ParseDomainXML(doc string, keys []MetadataKey) (*DomainInfo, error) {
	var d domainXML
	if err := xml.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("parse domain XML: %w", err)
	}
	info := &DomainInfo{OSType: d.OS.Type.Value, Arch: d.OS.Type.Arch, Machine: d.OS.Type.Machine}
	for _, x := range d.Devices.Disks {
		disk := Disk{Device: x.Target.Dev, DeviceType: x.Device, Type: x.Type, Bus: x.Target.Bus,
			Cache: x.Driver.Cache, Format: x.Driver.Type, Serial: x.Serial}
		if disk.DeviceType == "" {
			disk.DeviceType = "disk"
		}
		s := x.Source
		switch {
		case s.File != "":
			disk.Source = s.File
		case s.Dev != "":
			disk.Source = s.Dev
		case s.Dir != "":
			disk.Source = s.Dir
		case s.Pool != "":
			disk.Source = s.Pool + "/" + s.Volume
		case s.Protocol != "":
			disk.Source = s.Protocol + ":" + s.Name
		}
		info.Disks = append(info.Disks, disk)
	}
	for _, x := range d.Devices.Interfaces {
		ifc := Interface{Device: x.Target.Dev, MAC: x.MAC.Address, Type: x.Type, Model: x.Model.Type,
			Bridge: x.Source.Bridge, Network: x.Source.Network}
		if ifc.Bridge == "" && x.Type == "direct" {
			ifc.Bridge = x.Source.Dev // macvtap: the host device it sits on
		}
		info.Interfaces = append(info.Interfaces, ifc)
	}
	if len(d.Metadata.Inner) > 0 {
		info.Nova, info.Metadata = readMetadata(d.Metadata.Inner, keys)
	} else if len(keys) > 0 {
		info.Metadata = make([]string, len(keys))
	}
	return info, nil
}

// readMetadata walks the elements inside <metadata> once: nova's instance
// element, and every key's value.
func readMetadata(inner []byte, keys []MetadataKey) (*Nova, []string) {
	var nova *Nova
	values := make([]string, len(keys))
	if len(keys) == 0 {
		values = nil
	}
	dec := xml.NewDecoder(bytes.NewReader(inner))
	// stack holds the local names below the current top-level element, and
	// top its namespace.
	var top string
	var stack []string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && top == "" {
				top = t.Name.Space
				stack = append(stack, "")
				if strings.HasPrefix(top, novaNamespacePrefix) && nova == nil {
					nova = &Nova{}
				}
				matchKeys(keys, values, top, nil, t.Attr)
			} else {
				stack = append(stack, t.Name.Local)
				path := stack[1:]
				if nova != nil && strings.HasPrefix(top, novaNamespacePrefix) {
					novaAttrs(nova, path, t.Attr)
				}
				matchKeys(keys, values, top, path, t.Attr)
			}
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if len(stack) == 0 {
				continue
			}
			path := stack[1:]
			val := strings.TrimSpace(text.String())
			if val != "" {
				if nova != nil && strings.HasPrefix(top, novaNamespacePrefix) {
					novaText(nova, path, val)
				}
				for i, k := range keys {
					if k.Attr == "" && k.Namespace == top && values[i] == "" && equalPath(k.Path, path) {
						values[i] = val
					}
				}
			}
			text.Reset()
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				top = ""
			}
		}
	}
	return nova, values
}

func matchKeys(keys []MetadataKey, values []string, ns string, path []string, attrs []xml.Attr) {
	for i, k := range keys {
		if k.Attr == "" || k.Namespace != ns || values[i] != "" || !equalPath(k.Path, path) {
			continue
		}
		for _, a := range attrs {
			if a.Name.Local == k.Attr {
				values[i] = a.Value
			}
		}
	}
}

func equalPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func attr(attrs []xml.Attr, name string) string {
	for _, a := range attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// novaAttrs and novaText read <nova:name>, <nova:flavor name=...> and
// <nova:owner><nova:user uuid=...>NAME</nova:user><nova:project uuid=...>NAME</nova:project>.
func novaAttrs(n *Nova, path []string, attrs []xml.Attr) {
	switch strings.Join(path, "/") {
	case "flavor":
		n.Flavor = attr(attrs, "name")
	case "owner/user":
		n.UserID = attr(attrs, "uuid")
	case "owner/project":
		n.ProjectID = attr(attrs, "uuid")
	}
}

func novaText(n *Nova, path []string, val string) {
	switch strings.Join(path, "/") {
	case "name":
		n.Name = val
	case "owner/user":
		n.UserName = val
	case "owner/project":
		n.ProjectName = val
	}
}
