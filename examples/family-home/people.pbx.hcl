# One user per real person, each with an app account, a login email and a
# mobile of their own. Sarah is the documented owner; David can administer
# the site too. The teenagers are ordinary users.

user "sarah" {
  first_name       = "Sarah"
  last_name        = "Whitfield"
  email            = "sarah.whitfield@example.com"
  mobile           = "+447700900101"
  residence        = residence.home
  role             = "owner"
  extension        = 201
  app              = true
  directory        = true
  notify_email     = "sarah.whitfield@work.example"
  send_credentials = true
}

user "david" {
  first_name       = "David"
  last_name        = "Whitfield"
  email            = "david.whitfield@example.com"
  mobile           = "+447700900102"
  residence        = residence.home
  role             = "admin"
  extension        = 202
  app              = true
  directory        = true
  send_credentials = true
}

user "chloe" {
  first_name       = "Chloe"
  last_name        = "Whitfield"
  email            = "chloe.whitfield@example.com"
  mobile           = "+447700900103"
  residence        = residence.home
  extension        = 203
  app              = true
  directory        = true
  send_credentials = true
}

user "jack" {
  first_name       = "Jack"
  last_name        = "Whitfield"
  email            = "jack.whitfield@example.com"
  mobile           = "+447700900104"
  residence        = residence.home
  extension        = 204
  app              = true
  directory        = true
  voicemail        = false # Jack never listens to them anyway
  send_credentials = true
}
