# The Whitfield family home: one house, one gate, four people.
#
# Everyone who answers the gate has an account of their own (four app
# accounts, not one shared family login), the installer's account is kept
# apart in the installer block, and the site has a documented owner.

site "whitfield-home" {
  name     = "The Whitfields, 14 Moorland Rise"
  country  = "GB" # 999 and 112 are emergency numbers: no extension may start with them
  timezone = "Europe/London"
  domain   = "whitfield-home.example.net"

  installer {
    company = "Pennine Door Systems"
    email   = "support@pennine-doors.example"
    phone   = "+441134960123"
  }
}

residence "home" {
  label        = "Whitfield"    # the name shown on the gate's button
  ring         = "simultaneous" # every app and the hall monitor ring together
  ring_timeout = "30s"
  no_answer    = "voicemail"
}
