# One residence per row of flats.csv. The label is what a visitor keys on an
# entrance keypad: the flat number.
dynamic "residence" {
  for_each = local.flats
  labels   = ["flat-${residence.value.flat}"]
  content {
    label        = residence.value.flat
    ring         = residence.value.ring
    ring_timeout = "30s"
  }
}

# An indoor monitor in every flat whose row has a MAC.
dynamic "device" {
  for_each = [for f in local.flats : f if f.monitor_mac != ""]
  labels   = ["monitor-${device.value.flat}"]
  content {
    model     = "akuvox-c315"
    mac       = device.value.monitor_mac
    location  = "Flat ${device.value.flat}, hall"
    residence = residence["flat-${device.value.flat}"]
  }
}
