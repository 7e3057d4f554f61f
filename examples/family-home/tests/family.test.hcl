# Calls between the family's apps.

scenario "Jack declines David's call and it just ends: Jack has no voicemail" {
  dial {
    from = user.david
    to   = user.jack
  }
  decline { by = user.jack }
  refused { status = 603 }
  falls_back { to = "hangup" }
}

scenario "Chloe is on another call: David's call goes to her voicemail" {
  dial {
    from = user.david
    to   = user.chloe
  }
  busy { by = user.chloe }
  falls_back { to = "voicemail" }
}
