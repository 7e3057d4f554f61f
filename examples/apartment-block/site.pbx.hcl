# Liffey Wharf: a 32-flat block on four floors with two keypad entrances.
#
# The flats and the people who live in them come from two spreadsheets kept
# beside this file (flats.csv and residents.csv). Moving someone in or out is
# a one-line change to a CSV, reviewed like any other change.

site "liffey-wharf" {
  name     = "Liffey Wharf Apartments"
  country  = "IE" # 112 and 999 are emergency numbers: no extension may start with them
  timezone = "Europe/Dublin"
  domain   = "liffey-wharf.example.net"

  # Residents get extension = "auto": the next free number counting from
  # here. Once handed out, a number is recorded and stays put.
  auto_extensions_from = "200"

  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}

locals {
  flats     = csvdecode(file("flats.csv"))
  residents = csvdecode(file("residents.csv"))
}

# The management office: a visitor keys 0 at either entrance, or presses the
# concierge button on the main panel.
residence "management" {
  label        = "0"
  ring         = "sequential" # the manager first, then the caretaker
  ring_timeout = "40s"
}

user "manager" {
  first_name       = "Gráinne"
  last_name        = "Fitzpatrick"
  email            = "manager@liffey-wharf.example"
  residence        = residence.management
  role             = "owner" # the documented owner of the system
  extension        = 100
  app              = true
  directory        = true
  send_credentials = true
}

user "caretaker" {
  first_name       = "Tomás"
  last_name        = "Brennan"
  email            = "caretaker@liffey-wharf.example"
  residence        = residence.management
  role             = "admin"
  extension        = 101
  app              = true
  directory        = true
  send_credentials = true
}
