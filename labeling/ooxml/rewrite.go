package ooxml

import (
	"archive/zip"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// contentTypesName must be the first entry: some consumers sniff it at the start of the archive.
const contentTypesName = "[Content_Types].xml"

// Rewrite copies the package in r to w, replacing the entries named in parts (matched
// case-insensitively) and appending the ones the package lacked. A nil value deletes the entry.
// Untouched entries are copied raw, without recompression, in source order.
func Rewrite(r io.ReaderAt, size int64, parts map[string][]byte, w io.Writer) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	pending := make(map[string]string, len(parts)) // lower-case name → key in parts
	for k := range parts {
		pending[strings.ToLower(strings.TrimPrefix(k, "/"))] = k
	}
	zw := zip.NewWriter(w)
	written := make(map[string]bool)
	emit := func(name string, data []byte) error {
		if data == nil {
			return nil
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	files := make([]*zip.File, 0, len(zr.File))
	for _, f := range zr.File {
		if f.Name == contentTypesName {
			files = append([]*zip.File{f}, files...)
			continue
		}
		files = append(files, f)
	}
	if _, ok := pending[strings.ToLower(contentTypesName)]; ok && (len(files) == 0 || files[0].Name != contentTypesName) {
		if err := emit(contentTypesName, parts[pending[strings.ToLower(contentTypesName)]]); err != nil {
			return err
		}
		written[strings.ToLower(contentTypesName)] = true
	}
	for _, f := range files {
		low := strings.ToLower(f.Name)
		if written[low] {
			continue // a duplicate entry or one already replaced
		}
		written[low] = true
		if k, ok := pending[low]; ok {
			if err := emit(f.Name, parts[k]); err != nil {
				return fmt.Errorf("write %s: %w", f.Name, err)
			}
			continue
		}
		if err := zw.Copy(f); err != nil {
			return fmt.Errorf("copy %s: %w", f.Name, err)
		}
	}
	for _, low := range slices.Sorted(maps.Keys(pending)) {
		k := pending[low]
		if written[low] {
			continue
		}
		if err := emit(strings.TrimPrefix(k, "/"), parts[k]); err != nil {
			return fmt.Errorf("write %s: %w", k, err)
		}
	}
	return zw.Close()
}
