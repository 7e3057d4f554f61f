residence "flat" {}

user "mary" {
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  residence  = residence.flat
  extension  = 101
  app        = true
}

user "visitor" {
  first_name = "Ita"
  last_name  = "Brennan"
  email      = "visitor@example.com"
  residence  = residence.flat
  app        = true
}

device "phone" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:00:00:01"
  user  = user.mary
  blf = [
    user.owner,   # ERROR: BLF key without extension
    user.mary,    # WARNING: BLF key for the phone's own user
    user.mary,    # ERROR: Duplicate BLF key
  ]
}

device "monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:01"
  residence = residence.flat
  blf       = [user.mary] # ERROR: Unexpected BLF keys
}
