# Desk phones, bound by MAC to the person who uses them, and the entrance
# door station. Yealink MACs start with 80:5E:C0, Grandstream with 00:0B:82.

device "desk-priya" {
  model    = "yealink-t54w"
  mac      = "80:5E:C0:3A:01:01"
  location = "Reception"
  user     = user.priya
  # Reception sees at a glance whether the director or the office manager
  # is on a call before putting someone through (busy-lamp-field keys).
  blf = [user.james, user.fiona]
}

device "desk-james" {
  model    = "yealink-t54w"
  mac      = "80:5E:C0:3A:01:02"
  location = "Director's office"
  user     = user.james
}

device "desk-fiona" {
  model    = "yealink-t46u"
  mac      = "80:5E:C0:3A:01:03"
  location = "Office manager"
  user     = user.fiona
}

device "desk-tom" {
  model    = "yealink-t46u"
  mac      = "80:5E:C0:3A:01:04"
  location = "Studio, bench 1"
  user     = user.tom
}

device "desk-hannah" {
  model    = "yealink-t46u"
  mac      = "80:5E:C0:3A:01:05"
  location = "Studio, bench 2"
  user     = user.hannah
}

device "desk-marek" {
  model    = "grandstream-grp2612"
  mac      = "00:0B:82:3A:01:06"
  location = "Studio, bench 3"
  user     = user.marek
  blf      = [user.grace]
}

device "desk-grace" {
  model    = "grandstream-grp2612"
  mac      = "00:0B:82:3A:01:07"
  location = "Studio, bench 4"
  user     = user.grace
}

device "desk-ravi" {
  model    = "grandstream-grp2612"
  mac      = "00:0B:82:3A:01:08"
  location = "Print room"
  user     = user.ravi
}

# The street door: one button that rings reception; reception presses # to
# let the visitor in.
device "entrance" {
  model    = "grandstream-gds3710"
  mac      = "00:0B:82:3A:02:01"
  location = "Street door, 12 Clerkenwell Yard"

  button "1" {
    calls = user.priya
  }

  relay "door" {
    dtmf = "#"
    hold = "5s"
  }
}
