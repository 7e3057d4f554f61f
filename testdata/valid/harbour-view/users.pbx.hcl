user "mary" {
  first_name       = "Mary"
  last_name        = "Byrne"
  email            = "mary@example.com"
  mobile           = "+353871234567"
  residence        = residence.apt-1a
  role             = "owner"
  extension        = 101
  app              = true
  directory        = true
  voicemail        = true
  notify_email     = "mary.work@example.com"
  send_credentials = true
  numbers          = ["+35315550101"]
  conference       = 8101
  ring_timeout     = "25s"
}

user "sean" {
  first_name = "Seán"
  last_name  = "Byrne"
  email      = "Sean@Example.com"
  residence  = residence.apt-1a
  extension  = "auto"
}

user "aoife" {
  first_name = "Aoife"
  last_name  = "Kelly"
  email      = "aoife@example.org"
  mobile     = "+353861112233"
  residence  = residence.apt-1b
  role       = "admin"
  extension  = 102
  numbers    = ["+35315550102"]
}

user "tom" {
  first_name = "Tom"
  last_name  = "Lynch"
  email      = "tom@example.org"
  residence  = residence.apt-2a
  extension  = "auto"
  app        = true
  numbers    = ["+35315550203"] # his own: without it he would present the concierge's
}

user "concierge" {
  first_name = "Front"
  last_name  = "Desk"
  email      = "desk@harbour-view.example.net"
  extension  = 100
  numbers    = ["+35315550100"]
}
