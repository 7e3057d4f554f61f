residence "flat" {}

# Nothing of hers can ring: no residence, no app, no desk phone.
user "ghost" { # WARNING: User with no endpoint
  first_name = "Liam"
  last_name  = "Walsh"
  email      = "ghost@example.com"
  extension  = 105
}

# A desk phone is an endpoint.
user "desk-user" {
  first_name = "Desk"
  last_name  = "User"
  email      = "desk@example.com"
}

# A resident without an endpoint of her own is answered by her flat.
user "resident" {
  first_name = "Liam"
  last_name  = "Nolan"
  email      = "resident@example.com"
  residence  = residence.flat
}

# A door button that calls him has its own warning, at the button.
user "doorman" {
  first_name = "Doorman"
  last_name  = "Byrne"
  email      = "doorman@example.com"
}

device "monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:01"
  residence = residence.flat
}

device "desk" {
  model = "yealink-t31p"
  mac   = "80:5E:C0:00:00:01"
  user  = user.desk-user
}

device "entrance" {
  model = "akuvox-x916"
  mac   = "0C:11:05:00:00:02"
  button "1" { calls = residence.flat }
  button "2" { calls = user.doorman } # WARNING: User cannot answer
}
