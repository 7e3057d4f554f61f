user "owner" {
  first_name = "Ann"
  last_name  = "Owner"
  email      = "owner@example.com"
  role       = "owner"
  residence  = residence.home
  app        = true
}

user "ghost" { # ERROR: No e-mail or mobile
  first_name = "Gus"
  last_name  = "Ghost"
  app        = true
}

user "rose" { # WARNING: Missing name
  first_name       = "Rose"
  mobile           = "+447700900105"
  residence        = residence.home
  app              = true
  send_credentials = true
}

user "quiet" {
  first_name = "Quinn"
  last_name  = "Quiet"
  email      = "quiet@example.com"
  voicemail  = false
  app        = true
}

user "eve" {
  first_name = "Eve"
  last_name  = "Nolan"
  email      = "eve@example.com"
  extension  = 100 # WARNING: Extension in quarantine
  app        = true
}

# Not invited, still named in full: the name is their caller ID, their
# directory entry and their line on the handover sheet.
user "lodger" { # WARNING: Missing name
  email     = "lodger@example.com"
  residence = residence.home
  app       = true
}

user "nan" { # WARNING: Missing name
  last_name = "Byrne"
  email     = "nan@example.com"
  residence = residence.home
  app       = true
}
