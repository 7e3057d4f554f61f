residence "app-only" {}
residence "monitor-only" {}
residence "phone-only" {}
residence "silent" {} # ERROR: No answering endpoint
residence "unreached" {}

user "app-user" {
  first_name = "App"
  last_name  = "User"
  email      = "app@example.com"
  residence  = residence.app-only
  app        = true
}

user "phone-user" {
  first_name = "Phone"
  last_name  = "User"
  email      = "phone@example.com"
  residence  = residence.phone-only
}

user "quiet-user" {
  first_name = "Quiet"
  last_name  = "User"
  email      = "quiet@example.com"
  residence  = residence.silent
}

device "monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:01"
  residence = residence.monitor-only
}

device "desk" {
  model = "yealink-t31p"
  mac   = "80:5E:C0:00:00:01"
  user  = user.phone-user
}

device "entrance" {
  model = "akuvox-x916"
  mac   = "0C:11:05:00:00:02"
  button "1" { calls = residence.app-only }
  button "2" { calls = residence.monitor-only }
  button "3" { calls = residence.phone-only }
  button "4" { calls = residence.silent }
}
