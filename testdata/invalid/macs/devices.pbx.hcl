device "phone-1" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:11:22:33"
  user  = user.owner
}

device "phone-2" {
  model = "yealink-t54w"
  mac   = "805e.c011.2233" # ERROR: Duplicate MAC address
  user  = user.owner
}

device "phone-3" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:11:22" # ERROR: Invalid MAC address
  user  = user.owner
}

device "phone-4" {
  model = "yealink-t54w"
  mac   = "0C:11:05:11:22:33" # WARNING: MAC vendor mismatch
  user  = user.owner
}

device "phone-5" {
  model = "grandstream-grp2612"
  mac   = "02:00:00:11:22:33" # WARNING: MAC vendor mismatch
  user  = user.owner
}

device "phone-6" {
  model = "grandstream-grp2612"
  mac   = "01:00:5E:00:00:01" # ERROR: Invalid MAC address
  user  = user.owner
}
