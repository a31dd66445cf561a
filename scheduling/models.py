# Sessions, series, rosters, attendance and reminders arrive with the scheduling issue.
