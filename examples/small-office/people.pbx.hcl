# One user per member of staff, each with a fixed extension, a desk phone
# (see phones.pbx.hcl), voicemail (on by default) and a directory entry.
# Some have a direct-dial number from the carrier's pool and a personal
# conference room.

user "priya" {
  first_name   = "Priya"
  last_name    = "Shah"
  email        = "priya.shah@brightwater.example"
  mobile       = "+447700900301"
  extension    = 201
  directory    = true
  numbers      = ["+442079460100"] # the main number rings reception
  ring_timeout = "20s"
}

user "james" {
  first_name       = "James"
  last_name        = "Hartley"
  email            = "james.hartley@brightwater.example"
  mobile           = "+447700900302"
  role             = "owner"
  extension        = 202
  app              = true # answers his desk from his mobile too
  directory        = true
  numbers          = ["+442079460101"]
  conference       = 8101
  notify_email     = "james.hartley@home.example"
  send_credentials = true
}

user "fiona" {
  first_name       = "Fiona"
  last_name        = "Campbell"
  email            = "fiona.campbell@brightwater.example"
  mobile           = "+447700900303"
  role             = "admin"
  extension        = 203
  app              = true
  directory        = true
  numbers          = ["+442079460102"]
  conference       = 8102
  send_credentials = true
}

user "tom" {
  first_name = "Tom"
  last_name  = "Okoye"
  email      = "tom.okoye@brightwater.example"
  extension  = 204
  directory  = true
  numbers    = ["+442079460103"]
}

user "hannah" {
  first_name = "Hannah"
  last_name  = "Lewis"
  email      = "hannah.lewis@brightwater.example"
  extension  = 205
  directory  = true
  conference = 8103
  # Hannah's board meetings: others key the room's PIN (switchboard
  # credentials lists it as conference.hannah); she joins from her desk
  # phone without one.
  conference_pin = true
}

user "marek" {
  first_name = "Marek"
  last_name  = "Nowak"
  email      = "marek.nowak@brightwater.example"
  extension  = 206
  directory  = true
}

user "grace" {
  first_name = "Grace"
  last_name  = "Ellis"
  email      = "grace.ellis@brightwater.example"
  mobile     = "+447700900307"
  extension  = 207
  app        = true
  directory  = true
  numbers    = ["+442079460104"]
}

user "ravi" {
  first_name = "Ravi"
  last_name  = "Patel"
  email      = "ravi.patel@brightwater.example"
  extension  = 208
  directory  = true
  voicemail  = false # shared studio phone by the plotter; nobody checks it
}
