from complaintflow._cli import main

main()
