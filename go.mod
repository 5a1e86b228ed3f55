module github.com/floe-bft/floe

go 1.26.8

require github.com/supranational/blst v0.3.17
