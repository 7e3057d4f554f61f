device "phone-1" {
  model = "Yealink-T54W" # ERROR: Unknown model
  mac   = "80:5E:C0:11:22:33"
  user  = user.owner
}

device "phone-2" {
  model = "cisco-7940" # ERROR: Unknown model
  mac   = "00:1B:54:11:22:33"
  user  = user.owner
}
