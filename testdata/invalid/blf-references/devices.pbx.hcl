residence "flat" {}

user "mary" {
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  residence  = residence.flat
  extension  = 101
  app        = true
}

device "phone" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:00:00:01"
  user  = user.mary
  blf = [
    user.mray,      # ERROR: Reference to undeclared user
    residence.flat, # ERROR: Invalid reference
  ]
}

device "other-phone" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:00:00:02"
  user  = user.mary
  blf   = "mary" # ERROR: Invalid reference list
}
